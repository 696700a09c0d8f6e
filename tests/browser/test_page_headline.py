"""The borough dashboard's funding headline (issue 13 §2): the borough's own awards first,
then the shared, BCU-wide and London-wide awards reaching it, each at its full amount and
labelled with who shares it, never added into the borough's figure; the charts by programme
and by year show the borough's own money apart from the wider money (hatched, labelled with
its scope). Expected figures are read from the API in each test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_page import ALL, money, pick_borough, search_postcode, table_rows

SHORT = {
    "shared": "shared",
    "borough_wide": "borough-wide",
    "bcu_wide": "BCU-wide",
    "london_wide": "London-wide",
}


def awards(n: int) -> str:
    return f"{n:,} award" + ("" if n == 1 else "s")


def check_headline(page: Any, head: dict[str, Any], period: str) -> None:
    name = head["area"]["name"]
    box = page.locator("#panel-programme .headline")
    own = box.locator(".total.own")
    assert float(own.get_attribute("data-total")) == head["own"]["amount"]
    assert own.inner_text().startswith(
        f"{name}'s own awards, {period}: {money(head['own']['amount'])} "
        f"({awards(head['own']['awards'])}"
    )
    # the own line comes first, the wider ones after it, each with its own figure
    assert box.locator("p, li").first.get_attribute("data-scope") == "own"
    shown = box.locator("li.scope")
    scopes = [shown.nth(i).get_attribute("data-scope") for i in range(shown.count())]
    expected = [  # (a scope no award reaches has no £0 line)
        s
        for s in ("shared", "borough_wide", "bcu_wide", "london_wide")
        if s in head and head[s]["awards"]
    ]
    assert scopes == expected
    for i, scope in enumerate(scopes):
        line = shown.nth(i)
        text = line.inner_text()
        assert float(line.get_attribute("data-total")) == head[scope]["amount"]
        assert f"{money(head[scope]['amount'])} ({awards(head[scope]['awards'])}, in full" in text
        if scope == "london_wide":
            assert text.startswith(f"London-wide awards reaching {name} (shared by London's ")
            assert f"{head[scope]['areas_sharing']} boroughs" in text
        if scope == "bcu_wide":
            assert text.startswith(f"BCU-wide awards reaching {name} (")
            assert f"{head[scope]['areas'][0]['name']} BCU, shared by its " in text
            for other in head[scope]["shared_with"]:
                assert other["name"] in text
        if scope == "shared":
            assert text.startswith(f"Awards naming {name} with other areas (")
            assert f"{name}'s equal share {money(head[scope]['equal_share'])}" in text
            for other in head[scope]["areas"]:
                assert other["name"] in text
    if expected:
        assert "not added into " + name + "'s own figure" in box.inner_text()
    else:
        assert f"No shared or wider award reaches {name} {period}." in box.inner_text()


def check_charts(page: Any, panel: str, key: str, groups: list[dict[str, Any]], label: Any) -> None:
    own = [g for g in groups if g["scopes"]["own"]["awards"]]
    rows = table_rows(page, f"#panel-{panel} figure[data-chart={key}] table")
    assert rows == [
        [label(g), money(g["scopes"]["own"]["amount"]), f"{g['scopes']['own']['awards']:,}"]
        for g in own
    ]
    wider = [
        [f"{label(g)} ({SHORT[s]})", money(v["amount"]), f"{v['awards']:,}"]
        for g in groups
        for s, v in g["scopes"].items()
        if s != "own" and v["awards"]
    ]
    titles = page.eval_on_selector_all(
        f"#panel-{panel} .chart-title", "ps => ps.map(p => p.textContent)"
    )
    name = page.inner_text("#panel-programme .headline .own").split("'s own awards")[0]
    assert titles[0].startswith(f"{name}'s own awards by ") if own else True
    if not wider:  # nothing shared or wider live (the demo's patches since undated awards
        # stopped counting as live): no chart of it, rather than an empty one
        assert page.locator(f"#panel-{panel} figure[data-chart={key}-wider]").count() == 0
        assert not any(t.startswith("Shared and wider") for t in titles)
        return
    assert table_rows(page, f"#panel-{panel} figure[data-chart={key}-wider] table") == wider
    title = page.text_content(f"#panel-{panel} figure[data-chart={key}-wider] svg title")
    assert "hatched: in full, not" in title
    assert titles[-1].startswith(f"Shared and wider awards reaching {name} by ")


@pytest.mark.parametrize("borough", ["Lambeth", "Haringey"])
def test_the_dashboard_headline_shows_the_borough_own_awards_and_the_wider_ones_apart(
    page: Any, live_server: Server, artifacts: Path, borough: str
) -> None:
    boroughs = live_server.json("/areas", type="borough", per_page=100)["contents"]
    code = next(b["code"] for b in boroughs if b["name"] == borough)
    summary = live_server.json("/funding/summary", by="programme", area=code)
    years = live_server.json("/funding/summary", by="financial_year", area=code)
    head = summary["headline"]
    # the demo's money reaching a borough is mostly London-wide: the old headline
    assert head["london_wide"]["amount"] > 10 * head["own"]["amount"] > 0
    assert summary["totals"]["amount"] == pytest.approx(
        sum(head[s]["amount"] for s in ("own", "shared", "bcu_wide", "london_wide")), abs=0.01
    )

    page.goto(live_server.url("/"))
    pick_borough(page, borough)
    check_headline(page, head, "all years")
    panel = page.inner_text("#panel-programme")
    assert money(summary["totals"]["amount"]) not in panel  # no London-wide money as its own
    check_charts(
        page, "programme", "programme", summary["groups"], lambda g: g["programme"]["name"]
    )
    check_charts(
        page,
        "year",
        "financial_year",
        sorted(years["groups"], key=lambda g: g["financial_year"] or "not recorded"),
        lambda g: g["financial_year"] or "not recorded",
    )
    page.screenshot(path=str(artifacts / f"page-headline-{borough.lower()}.png"), full_page=True)


def test_without_the_funding_summary_the_patch_headline_is_shown(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    """With /funding/* answering 404 the programme panel falls back on the borough patch's
    live awards, with the same headline: own first, the wider ones apart."""

    def missing(route: Any) -> None:
        route.fulfill(
            status=404,
            content_type="application/problem+json",
            body=json.dumps({"title": "Not Found", "status": 404, "code": "not-found"}),
        )

    page.route("**/api/v1/funding/**", missing)
    patch = live_server.json("/patch", postcode="SW2 1RW", per_page=ALL)
    borough = live_server.json("/patch", area=patch["borough"]["code"], per_page=ALL)
    funding = borough["funding"]
    search_postcode(page, live_server, "SW2 1RW")
    head = funding["headline"]
    assert head["area"]["code"] == patch["borough"]["code"]
    day = page.evaluate(
        "d => new Intl.DateTimeFormat('en-GB', {day: 'numeric', month: 'short', year: 'numeric',"
        " timeZone: 'UTC'}).format(new Date(d + 'T00:00:00Z'))",
        funding["live_on"],
    )
    check_headline(page, head, f"live on {day}")
    check_charts(page, "programme", "programme", funding["by_programme"], lambda g: g["programme"]["name"])  # fmt: skip
    page.screenshot(path=str(artifacts / "page-headline-degraded.png"), full_page=True)
