"""The public page at / in headless Chromium: a postcode search, a borough dashboard whose
figures equal the API's, keyboard-only use, a plain-words problem, a phone-width screen.
Expected names and figures are read from the API in each test, not written here."""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import Server

POSTCODE = "KT1 1EU"  # Kingston upon Thames: Oxygen's knife-crime programme has a site nearby
OUTSIDE = "M1 1AE"  # Manchester: well-formed, not London
ALL = 1000


def half_up(value: float, places: str = "1") -> Decimal:
    """Rounded as the browser's Intl.NumberFormat rounds (half away from zero)."""
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def money(amount: float) -> str:
    return f"£{half_up(amount):,}"


def decimal1(value: float) -> str:
    return f"{half_up(value, '0.1'):f}".removesuffix(".0")


def own_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups with awards of the area's own (the page's own chart, issue 13 §2)."""
    return [g for g in groups if g["scopes"]["own"]["awards"]]


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

    with page.expect_response(lambda r: "/api/v1/patch?" in r.url) as answer:
        search_postcode(page, live_server, POSTCODE)
    # zstd, which only a client that takes it is sent: the page draws what follows from it
    assert answer.value.headers.get("content-encoding") == "zstd"

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
    # a demo outcome's cell ends with its "Demo" label
    assert [row[0].removesuffix("Demo").strip() for row in outcomes] == [
        o["metric"] for o in detail["outcomes"]
    ]
    # the Measured column: the demo's follow-up was measured 6 months after Oxygen's funding
    # ended (2024-03-31); the interim figures at their period's end, during funding
    measured = {row[0].removesuffix("Demo").strip(): row[2] for row in outcomes}
    assert measured["programme completers not re-offending"].endswith(
        "6 months after funding ended"
    )
    assert measured["knife-crime workshops delivered"].endswith("(period end)")
    assert "Funding ended" in card.locator("p.follow-up-rule").inner_text()
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
    # the borough with the most programmes funding it, so that the charts have several bars
    summaries = {
        b["code"]: live_server.json("/funding/summary", by="programme", area=b["code"])
        for b in boroughs
    }
    code = max(summaries, key=lambda c: (len(own_groups(summaries[c]["groups"])), c))
    borough = next(b for b in boroughs if b["code"] == code)
    summary = summaries[code]
    years = live_server.json("/funding/summary", by="financial_year", area=code)
    need = live_server.json("/funding/need", level="borough")
    patch = live_server.json("/patch", area=code, per_page=ALL)

    pick_borough(page, borough["name"])
    assert page.inner_text("#dashboard-heading") == f"Borough dashboard: {borough['name']}"
    assert borough["name"] in page.inner_text("#patch-facts")
    assert parse_qs(urlparse(page.url).query) == {"area": [code]}

    # funding by programme and by financial year: the borough's own awards, every bar and
    # table row, and its own total (the wider awards apart: test_page_headline.py)
    totals = summary["totals"]
    assert money(summary["headline"]["own"]["amount"]) in page.inner_text("#panel-programme .total")
    for panel, key, answer, label in (
        ("programme", "programme", summary, lambda g: g["programme"]["name"]),
        ("year", "financial_year", years, lambda g: g["financial_year"] or "not recorded"),
    ):
        groups = own_groups(answer["groups"])
        if panel == "year":
            groups = sorted(groups, key=label)
        own = [g["scopes"]["own"] for g in groups]
        chart = f"#panel-{panel} figure[data-chart={key}]"
        rows = table_rows(page, f"{chart} table")
        assert rows == [
            [label(g), money(o["amount"]), f"{o['awards']:,}"]
            for g, o in zip(groups, own, strict=True)
        ]
        bars = page.eval_on_selector_all(
            f"{chart} svg .bar-value", "ts => ts.map(t => t.textContent)"
        )
        assert bars == [money(o["amount"]) for o in own]
        values = page.eval_on_selector_all(
            f"{chart} tbody td.num:nth-child(2)",
            "cs => cs.map(c => Number(c.dataset.value))",
        )
        assert values == [o["amount"] for o in own]

    # against need: per 1,000 residents and per 1,000 offences, with the London average
    row = next(r for r in need["areas"] if r["area"]["code"] == code)
    need_text = page.inner_text("#panel-need")
    assert money(row["amount"]) in page.inner_text("#panel-need .total")
    for key in ("per_1000_residents", "per_1000_offences"):
        assert row[key] is not None and need["london"][key] is not None
        shown = table_rows(page, f"#panel-need figure[data-chart={key}] table")
        assert shown == [
            [borough["name"], money(row[key])],
            ["London average (hatched)", money(need["london"][key])],
        ]
        compare = page.inner_text(f"#panel-need .compare[data-key={key}]")
        ratio = row["vs_london"][key]
        if ratio >= 1:
            assert f"{decimal1(ratio)} times the London average" in compare
        else:
            assert f"{half_up(ratio * 100)}% of the London average" in compare
        assert (
            f"of {sum(1 for r in need['areas'] if r['rank'][key] is not None)} boroughs" in compare
        )
    assert (
        f"{need['periods']['offences']['start']} to {need['periods']['offences']['end']}"
        in need_text
    )

    # award lengths and money ending soon, from the summary's totals
    assert page.inner_text("#panel-length .median") == f"{decimal1(totals['median_months'])} months"
    assert page.inner_text("#panel-length .share") == f"{half_up(totals['share_36_plus'] * 100)}%"
    lengths = table_rows(page, "#panel-length table")
    assert [int(r[1].split()[0]) for r in lengths] == list(totals["length_distribution"].values())
    # the totals are of every award reaching the borough, and the panel says so
    assert f"Over every award reaching {borough['name']}" in page.inner_text("#panel-length .scope")
    ending = page.locator("#panel-ending .total")
    assert float(ending.get_attribute("data-awards")) == totals["ending_soon"]["awards"]
    assert money(totals["ending_soon"]["amount"]) in ending.inner_text()

    # services by theme, counted from the borough's patch
    themes = Counter(t["name"] for s in patch["services"]["contents"] for t in s["themes"])
    shown_themes = {r[0]: r[1] for r in table_rows(page, "#panel-theme table")}
    assert shown_themes == {
        name: f"{n} service" + ("" if n == 1 else "s") for name, n in themes.items()
    }
    # compared with similar boroughs: each measure's row as GET /areas/{code}/comparison
    comparison = live_server.json(f"/areas/{code}/comparison")
    similar = ", ".join(a["name"] for a in comparison["similar_boroughs"])
    assert similar in page.inner_text("#panel-comparison .similar")
    shown = {r[0]: r[1:] for r in table_rows(page, "#panel-comparison table")}

    def fig(measure: str, x: float | None) -> str:
        if x is None:
            return "–"
        if measure.startswith("per_1000"):
            return money(x)
        return decimal1(x) if measure == "median_months" else f"{half_up(x * 100)}%"

    members = len(comparison["similar_boroughs"])

    def mean(m: dict[str, Any]) -> str:
        counted = m["similar_counted"]
        return fig(m["measure"], m["similar_mean"]) + (
            f" ({counted} of {members})" if counted < members else ""
        )

    assert [
        [fig(m["measure"], m["borough"]), mean(m), fig(m["measure"], m["london"])]
        + [f"{ordinal(m['rank'])} of {m['ranked']}" if m["rank"] else "–"]
        for m in comparison["measures"]
    ] == list(shown.values())
    assert comparison["measures"][1]["period"] in page.inner_text("#panel-comparison")
    page.screenshot(path=str(artifacts / "page-borough-dashboard.png"), full_page=True)


def test_the_dashboard_says_whether_the_money_was_on_time(page: Any, live_server: Server) -> None:
    """'Was the money on time?': the late, dated and undated awards and each programme's row
    as /funding/timeliness answers them, with the rule in words."""
    answer = live_server.json("/funding/timeliness", by="programme", area="E09000021")
    totals = answer["totals"]
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    pick_borough(page, "Kingston upon Thames")
    total = page.locator("#panel-timeliness .total")
    assert [int(total.get_attribute(f"data-{k}")) for k in ("late", "dated", "undated")] == [
        totals["late_awards"],
        totals["dated_awards"],
        totals["undated_awards"],
    ]
    assert f"{totals['late_awards']} of {totals['dated_awards']} dated awards" in total.inner_text()
    assert f"{totals['undated_awards']} awards undated" in total.inner_text()
    assert "decided after the period the award funds began" in page.inner_text(
        "#panel-timeliness .rule-words"
    )
    # (every award reaching the borough, London-wide ones included: said, not left to guess)
    scope = page.inner_text("#panel-timeliness .scope")
    assert scope.startswith("Over every award reaching Kingston upon Thames")
    assert table_rows(page, "#panel-timeliness table") == [
        [
            g["programme"]["name"] if g["programme"] else "not recorded",
            str(g["late_awards"]),
            str(g["dated_awards"]),
            str(g["undated_awards"]),
            "—" if g["worst_days"] is None else f"{g['worst_days']:,}",
        ]
        for g in answer["groups"]
        if g["awards"]
    ]


def test_a_borough_whose_awards_have_no_amount_is_not_shown_as_0(
    page: Any, live_server: Server
) -> None:
    """The need and comparison panels of a borough whose every award has no amount
    recorded say so, rather than "£0" (the demo's Safer Greenwich decision)."""
    need = live_server.json("/funding/need", level="borough")
    row = next(r for r in need["areas"] if 0 < r["awards"] == r["awards_without_amount"])
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    pick_borough(page, row["area"]["name"])
    page.wait_for_selector("#panel-comparison .facts-list")
    assert "amount not recorded" in page.inner_text("#panel-need .total")
    assert "£0" not in page.inner_text("#panel-need .total")
    facts = page.inner_text("#panel-comparison .facts-list")
    assert "shared ones included" in facts and "amount not recorded" in facts


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def test_the_dashboard_degrades_when_the_funding_figures_are_missing(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    """With /funding/* answering 404, the page says so and falls back on the patch."""

    def missing(route: Any) -> None:
        route.fulfill(
            status=404,
            content_type="application/problem+json",
            body=json.dumps({"title": "Not Found", "status": 404, "code": "not-found"}),
        )

    page.route("**/api/v1/funding/**", missing)
    patch = live_server.json("/patch", postcode=POSTCODE, per_page=ALL)
    search_postcode(page, live_server, POSTCODE)
    assert "unavailable" in page.inner_text("#panel-year")
    assert "unavailable" in page.inner_text("#panel-need")
    borough = live_server.json("/patch", area=patch["borough"]["code"], per_page=ALL)
    funding = borough["funding"]
    own = funding["headline"]["own"]
    assert money(own["amount"]) in page.inner_text("#panel-programme .total")
    rows = table_rows(page, "#panel-programme figure[data-chart=programme] table")
    assert rows == [
        [p["programme"]["name"], money(o["amount"]), f"{o['awards']:,}"]
        for p in own_groups(funding["by_programme"])
        for o in [p["scopes"]["own"]]
    ]
    page.screenshot(path=str(artifacts / "page-dashboard-degraded.png"), full_page=True)


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
    box = page.get_by_label("Postcode")  # marked, and tied to the problem's words too
    assert box.get_attribute("aria-invalid") == "true"
    assert box.get_attribute("aria-describedby") == "postcode-hint problem"
    assert alert.get_attribute("id") == "problem"
    page.screenshot(path=str(artifacts / "page-outside-london.png"), full_page=True)
    box.fill(POSTCODE)
    box.press("Enter")
    page.wait_for_selector("#results[data-state=ready]")
    assert box.get_attribute("aria-invalid") is None
    assert box.get_attribute("aria-describedby") == "postcode-hint"  # its hint kept
    page.goto(live_server.url("/"))  # a failed search, then Back to "/": not marked
    box.fill(OUTSIDE)
    box.press("Enter")
    alert.wait_for()
    assert box.get_attribute("aria-invalid") == "true"
    page.go_back()
    alert.wait_for(state="hidden")
    assert box.input_value() == "" and box.get_attribute("aria-invalid") is None
    assert box.get_attribute("aria-describedby") == "postcode-hint"


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
    # a wide table's caption stays within the screen (it was as wide as its table, cut at
    # the screen's edge: the page probe), also once the table is scrolled sideways
    edges = phone.evaluate(
        """() => Array.from(document.querySelectorAll('.table-wrap caption'))
            .filter(c => c.getBoundingClientRect().width > 1)
            .flatMap(c => { const wrap = c.closest('.table-wrap'); wrap.scrollLeft = 0;
                            const before = c.getBoundingClientRect().right;
                            wrap.scrollLeft = 500;
                            return [before, c.getBoundingClientRect().right]; })"""
    )
    width = phone.viewport_size["width"]
    assert edges and all(edge <= width for edge in edges), (edges, width)


def test_a_link_with_an_area_opens_that_borough(page: Any, live_server: Server) -> None:
    borough = live_server.json("/areas", type="borough", q="Hackney")["contents"][0]
    page.goto(live_server.url(f"/?area={borough['code']}"))
    page.wait_for_selector("#results[data-state=ready]")
    assert borough["name"] in page.inner_text("#patch-facts")
    feed = page.get_attribute("#feed-link", "href")
    assert feed == f"/api/v1/changes.atom?area={borough['code']}"
    assert page.get_attribute("a:text('API documentation')", "href") == "/api/v1/docs"


def test_back_to_the_start_address_shows_the_start_and_the_boxes_show_what_is_shown(
    page: Any, live_server: Server
) -> None:
    """Back from a patch to `/` shows the page as it opens (the previous results, status
    and title stayed under an address that names none); a search by one box empties the
    other, and a link naming a borough by name shows it chosen in the list; a failed search
    does not keep the previous area's title (the page probe of 5 December)."""
    page.goto(live_server.url("/"))
    start_title = page.title()
    page.get_by_label("Postcode").fill(POSTCODE)
    page.get_by_role("button", name="Find my patch").click()
    page.wait_for_selector("#results[data-state=ready]")
    assert page.title() != start_title
    page.go_back()
    page.wait_for_function("document.getElementById('results').hidden")
    assert urlparse(page.url).path == "/" and not urlparse(page.url).query
    assert page.title() == start_title
    assert page.input_value("#postcode") == "" and page.inner_text("#status") == ""
    page.go_forward()  # and forward again: the patch
    page.wait_for_selector("#results[data-state=ready]")
    assert page.input_value("#postcode") == POSTCODE

    borough = live_server.json("/areas", type="borough", q="Lambeth")["contents"][0]
    page.goto(live_server.url("/?area=Lambeth"))
    page.wait_for_selector("#results[data-state=ready]")
    assert page.input_value("#borough") == borough["code"]
    page.get_by_label("Postcode").fill(POSTCODE)
    page.get_by_role("button", name="Find my patch").click()
    page.wait_for_selector("#results[data-state=ready]")
    page.wait_for_function("document.title.indexOf('Lambeth') < 0")
    assert page.input_value("#borough") == ""  # (it said Lambeth above Kingston's results)
    page.get_by_label("Postcode").fill(OUTSIDE)
    page.get_by_role("button", name="Find my patch").click()
    page.get_by_role("alert").wait_for()
    assert page.title() == start_title


def lambeth_before_the_borough_list(page: Any, server: Server) -> tuple[dict[str, Any], list[Any]]:
    """Open ``/?area=Lambeth`` with the borough list held back, until Lambeth's patch is
    drawn: (Lambeth's area, the held request for the list, to ``continue_()``)."""
    borough = server.json("/areas", type="borough", q="Lambeth")["contents"][0]
    held: list[Any] = []
    page.route(
        lambda url: "/api/v1/areas?" in url and "type=borough" in url,
        lambda route: held.append(route),
    )
    page.goto(server.url("/?area=Lambeth"))
    page.wait_for_selector("#results[data-state=ready]")
    return borough, held


def test_a_borough_named_in_the_link_is_chosen_when_the_list_comes_after_its_patch(
    page: Any, live_server: Server
) -> None:
    """The borough list and the patch are fetched side by side; when the list came second,
    it chose the address's "Lambeth" (a name, no option's value) and so showed nothing
    chosen above Lambeth's results (CI of 5 December). Here the list is held back until the
    patch is drawn."""
    borough, held = lambeth_before_the_borough_list(page, live_server)
    assert len(held) == 1 and page.locator("#borough option").count() <= 1  # not there yet
    held[0].continue_()
    page.wait_for_selector(f"#borough option[value='{borough['code']}']", state="attached")
    assert page.input_value("#borough") == borough["code"]
    assert "Lambeth" in page.title()


def test_a_postcode_searched_before_the_list_comes_leaves_no_borough_chosen(
    page: Any, live_server: Server
) -> None:
    """A postcode searched while the borough list was still on its way: the list, coming
    while the postcode's patch loads, chose the borough shown before (Lambeth) and it
    stayed chosen above Kingston's results (the review of 5 December)."""
    borough, held_list = lambeth_before_the_borough_list(page, live_server)
    held_patch: list[Any] = []
    page.route(
        lambda url: "/api/v1/patch?" in url and "postcode=" in url,
        lambda route: held_patch.append(route),
    )
    page.get_by_label("Postcode").fill(POSTCODE)
    page.get_by_role("button", name="Find my patch").click()
    page.wait_for_url("**/?postcode=*")
    held_list[0].continue_()
    page.wait_for_selector(f"#borough option[value='{borough['code']}']", state="attached")
    assert page.input_value("#borough") == ""
    assert page.get_attribute("#results", "data-state") == "loading"
    held_patch[0].continue_()
    page.wait_for_selector("#results[data-state=ready]")  # (it was "loading" until now)
    assert "Lambeth" not in page.title() and page.input_value("#borough") == ""


def test_the_skip_link_goes_somewhere_and_a_boroughs_awards_are_listed_once(
    page: Any, live_server: Server
) -> None:
    """Before a search the skip link leads to the search (it led to the hidden results, and
    the focus fell to the page's body); a borough's own view lists its awards once, on its
    dashboard (the patch's section showed the same table above it: the page probe)."""
    page.goto(live_server.url("/"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the search"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "postcode"

    borough = live_server.json("/areas", type="borough", q="Lambeth")["contents"][0]
    page.goto(live_server.url(f"/?area={borough['code']}"))
    page.wait_for_selector("#dashboard[data-state=ready]")
    assert page.locator("#awards").is_hidden() and page.locator("#panel-awards").is_visible()
    assert page.get_by_role("heading", name=f"Awards reaching {borough['name']}").count() == 1
    assert page.get_attribute("a.skip", "href") == "#results"
    search_postcode(page, live_server, POSTCODE)  # a ward's view: its awards and the borough's
    assert page.locator("#awards").is_visible() and page.locator("#panel-awards").is_visible()


def test_each_how_these_figures_are_made_is_named_by_its_section(
    page: Any, live_server: Server
) -> None:
    """A screen reader's list of controls tells the disclosures apart: each is named by its
    section's heading too (six read "How these figures are made" alike: the page probe)."""
    borough = live_server.json("/areas", type="borough", q="Lambeth")["contents"][0]
    page.goto(live_server.url(f"/?area={borough['code']}"))
    page.wait_for_selector("#dashboard[data-state=ready]")
    named = "How these figures are made: "
    for _ in range(50):  # (each is named once it is in its section: a moment after)
        names = page.eval_on_selector_all(
            "details.how > summary", "ss => ss.map(s => s.textContent)"
        )
        if all(n.startswith(named) for n in names):
            break
        page.wait_for_timeout(100)
    assert len(names) >= 4 and all(n.startswith(named) for n in names), names
    assert len(set(names)) == len(names), names
